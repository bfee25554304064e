/**
 * Writes twin/grid/grid.schema.json with its DER technologies generated from the registry
 * (twin/der/technologies.ts). Run after adding or changing a technology: `npm run schema:grid`.
 * twin/der/technologies.test.ts fails while the published file and the registry disagree.
 */
import { writeFileSync } from 'node:fs';
import { gridSchemaWith } from '../twin/der/technologies.ts';
import { GRID_SCHEMA_URL } from '../twin/grid/yaml.ts';

writeFileSync(GRID_SCHEMA_URL, `${JSON.stringify(gridSchemaWith(), null, 2)}\n`);
console.log(`wrote ${GRID_SCHEMA_URL.pathname}`);
