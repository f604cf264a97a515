/** A join token (`<id>:<secret>`, as `berth join-token create` prints it) as the key pair the agent signs `Join` with. */
export function joinTokenCredentials(token: string): { accessKeyId: string; secretAccessKey: string } {
  const i = token.indexOf(':');
  if (i <= 0 || !token.startsWith('BJTA')) throw new Error('not a Berth join token (expected <id>:<secret>, as `berth join-token create` prints it)');
  return { accessKeyId: token.slice(0, i), secretAccessKey: token.slice(i + 1) };
}
