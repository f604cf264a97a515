/**
 * EC2's own query protocol (botocore's `ec2`): form-encoded `Action`/`Version` parameters like
 * awsQuery, but lists are `Name.N` (never `.member.`), members are named by their capitalized
 * `locationName` (`Filter.1.Name`, `Filter.1.Value.1`, `DryRun`), responses are
 * `<ActionResponse xmlns=...><requestId>...</requestId>...members...</ActionResponse>` without a
 * result wrapper, and errors are `<Response><Errors><Error><Code>` (`encodeEc2Error`).
 */
import { ServiceError } from '../errors.js';
import { decodeFormStruct, encodeXmlValue, formKey, type Tree } from './awsQuery.js';
import type { ServiceModel } from './model.js';
import { Problems, type SpecialErrors } from './modelValidation.js';

/** EC2's error for a request member of the wrong type or outside its constraints. */
export const EC2_INVALID_PARAMETER = 'InvalidParameterValue';

/**
 * Decodes an EC2 form (as a tree, see `parseForm`) into the operation's typed input. A required
 * member that is absent is `MissingParameter` ("The request must contain the parameter X"), a
 * value not of its type or outside its constraints `InvalidParameterValue` (or `validationCode`),
 * as EC2 answers them.
 */
export function decodeEc2Input(model: ServiceModel, opName: string, tree: Tree, validationCode = EC2_INVALID_PARAMETER, special?: SpecialErrors): Record<string, unknown> {
  const op = model.operations[opName]!;
  if (!op.input) return {};
  const problems = new Problems();
  const out = decodeFormStruct(model, op.input.shape, tree, '', problems, 'ec2');
  if (problems.count) throw new ServiceError(validationCode, `Invalid value: ${problems.summary()}`);
  const shape = model.shape(op.input.shape);
  for (const r of shape.required ?? []) {
    if (out[r] === undefined) throw new ServiceError('MissingParameter', `The request must contain the parameter ${formKey(shape.members![r]!, r, 'ec2')}`);
  }
  model.validate(op.input.shape, out, validationCode, special);
  return out;
}

/** Renders a successful EC2 response: `requestId`, then the output's members by their `locationName`. */
export function encodeEc2Response(model: ServiceModel, opName: string, result: unknown, requestId: string): string {
  const op = model.operations[opName]!;
  const ns = (model.metadata.xmlNamespace ?? '').replace(/\/?$/, '/');
  const out: string[] = [`<?xml version="1.0" encoding="UTF-8"?>\n<${opName}Response xmlns="${ns}"><requestId>${requestId}</requestId>`];
  if (op.output) encodeXmlValue(model, op.output.shape, result ?? {}, out);
  else out.push('<return>true</return>');
  out.push(`</${opName}Response>`);
  return out.join('');
}
