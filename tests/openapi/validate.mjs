// Validate an OpenAPI document (a JSON file, argv[2]) with @seriousme/openapi-schema-validator,
// pinned in package-lock.json. Prints "valid: OpenAPI <version>" and exits 0, or prints the
// errors and exits 1.
import { readFileSync } from "node:fs";
import { Validator } from "@seriousme/openapi-schema-validator";

const doc = JSON.parse(readFileSync(process.argv[2], "utf8"));
const validator = new Validator();
const res = await validator.validate(doc);
if (!res.valid) {
  console.error(JSON.stringify(res.errors, null, 2));
  process.exit(1);
}
console.log(`valid: OpenAPI ${validator.version}`);
