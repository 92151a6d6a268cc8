/**
 * Simulated cloud endpoints, one per SPEC §13 provider type that is not plain OpenAI or
 * Anthropic: real HTTP servers on 127.0.0.1 that check the exact wire format (URL, query,
 * headers, body, SigV4 signature, OAuth token) and answer in the provider's format,
 * streaming included. See ./common.ts for what they share.
 */
export { startAzureSim, type AzureSim, type AzureSimOptions } from './azure.js';
export { startBedrockSim, converseResponse, converseStreamFrames, awsEncode, type BedrockSim, type BedrockSimOptions } from './bedrock.js';
export type { CloudReply, CloudRequest, CloudServer, ReplyFn } from './common.js';
export { generateContentResponse, generateContentStreamEvents } from './generate-content.js';
export { startGeminiSim, type GeminiSim, type GeminiSimOptions } from './gemini.js';
export { startVertexSim, CLOUD_PLATFORM_SCOPE, type VertexSim, type VertexSimOptions } from './vertex.js';
