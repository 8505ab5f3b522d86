import { writeFileSync } from 'node:fs';
import openapiTS from 'openapi-typescript';
import { openapiSpec } from './openapi-spec.ts';

export const SCHEMA_FILE = new URL('../src/api/schema.d.ts', import.meta.url);

/** The dashboard's API payload types, generated from the server's OpenAPI document. */
export async function generateApiTypes(): Promise<string> {
  // biome-ignore lint/suspicious/noExplicitAny: openapi-typescript types its input as its own OpenAPI3 shape
  return openapiTS((await openapiSpec()) as any, { exportType: true });
}

if (import.meta.main) {
  writeFileSync(SCHEMA_FILE, await generateApiTypes());
  console.log(`wrote ${SCHEMA_FILE.pathname}`);
}
