/**
 * Amazon ECR (awsJson1_1, target prefix AmazonEC2ContainerRegistry_V20150921): repositories,
 * images, layer uploads, authorization tokens, lifecycle and repository policies, tags, over
 * the ECR domain (src/domain/ecr/). The registry itself (`/v2/`, what docker and skopeo speak)
 * is the registry front, src/registry/; both go through the same domain operations.
 */
import type { Registry } from '../../domain/ecr/registry.js';
import { ServiceModel } from '../../protocol/model.js';
import type { ServiceDefinition } from '../types.js';
import { imageHandlers } from './images.js';
import { repositoryHandlers } from './repositories.js';

/** The ECR service definition; `registry` holds the blob store, the token issuer and the registry's address. */
export function ecrService(registry: Registry): ServiceDefinition {
  return {
    name: 'ecr',
    model: ServiceModel.load('ecr'),
    protocol: 'json',
    signingNames: ['ecr'],
    validationErrorCode: 'InvalidParameterException',
    bodyLimits: {
      // A 20 MiB part, base64 in JSON (4/3), and the rest of the request.
      UploadLayerPart: 28 * 1024 * 1024,
      // A 4 MiB manifest as a JSON string (escaping can double quotes and backslashes).
      PutImage: 10 * 1024 * 1024,
    },
    handlers: { ...repositoryHandlers(registry), ...imageHandlers(registry) },
  };
}
