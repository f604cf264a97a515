/** Berth's version, as reported by /_berth/health and `berth --version`. */
export const VERSION = '0.1.0';
