/**
 * The shapes of AWS API models (src/models/*.json, derived from AWS's published service
 * descriptions) as ./model.ts reads them: shape references, shapes, operations and the model
 * document. Types only.
 */
/** A reference to a shape from a member, list item, map key/value or operation input/output, with its wire names. */
export interface ShapeRef {
  shape: string;
  locationName?: string;
  /** EC2: the member's name in a request form, when it is not its capitalized `locationName`. */
  queryName?: string;
  flattened?: boolean;
  xmlNamespace?: unknown;
  location?: string;
  resultWrapper?: string;
}

/** One shape of a model: its type and, per type, members, items, keys, values and constraints. */
export interface Shape {
  type: 'structure' | 'list' | 'map' | 'string' | 'integer' | 'long' | 'float' | 'double' | 'boolean' | 'timestamp' | 'blob';
  members?: Record<string, ShapeRef>;
  required?: string[];
  member?: ShapeRef;
  key?: ShapeRef;
  value?: ShapeRef;
  enum?: string[];
  min?: number;
  max?: number;
  pattern?: string;
  flattened?: boolean;
  locationName?: string;
  timestampFormat?: string;
  error?: { code?: string; httpStatusCode?: number; senderFault?: boolean };
  exception?: boolean;
}

/** One operation of a model: its input, output and error shapes. */
export interface Operation {
  name: string;
  input?: ShapeRef;
  output?: ShapeRef;
  errors?: ShapeRef[];
}

/** A model file (src/models/<name>.json) as loaded. */
export interface ModelDocument {
  metadata: {
    apiVersion: string;
    endpointPrefix: string;
    protocol: string;
    serviceId: string;
    signingName?: string;
    targetPrefix?: string;
    xmlNamespace?: string;
    jsonVersion?: string;
    /** The wire protocols the service speaks, in its clients' order of preference (newer models). */
    protocols?: string[];
    /** Present when JSON and CBOR errors also carry the awsQuery error code (`x-amzn-query-error`). */
    awsQueryCompatible?: Record<string, unknown>;
  };
  operations: Record<string, Operation>;
  shapes: Record<string, Shape>;
  /** For a model trimmed to the operations Berth serves: the names of the others (see scripts/extract-models.py). */
  unservedOperations?: string[];
}
