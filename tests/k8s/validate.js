#!/usr/bin/env node
// Validate Kubernetes manifests (YAML, several documents per file) against the OpenAPI schemas
// of Kubernetes, as compiled by the npm package kubernetes-models (version pinned in
// package.json / package-lock.json; see docs/kubernetes.md for the Kubernetes version).
// Tests only: tenantctl never needs node.
//
//   node validate.js FILE...        validate every object; "-" reads stdin
//   node validate.js --json FILE... print the parsed documents as one JSON array instead
//
// Each document is parsed twice, as YAML 1.2 (core schema) and as YAML 1.1 (what the Go YAML
// library of kubectl and the API server reads): a value that means something else in one of
// them (an unquoted `on`, `0755`, `1e3`) is an error, as are duplicate keys and parse warnings.
// Each object is then validated by its apiVersion and kind with the model's schema validator,
// and, since those schemas let unknown fields through where `kubectl apply` (strict field
// validation) refuses them, every key must be a field name that some Kubernetes schema
// declares, except inside free-form maps (labels, annotations, selectors, resource lists,
// Secret data). Exit 0 when all are valid, 1 otherwise (one line per problem on stderr).
"use strict";
const fs = require("fs");
const path = require("path");
const YAML = require("yaml");

const MODELS = path.dirname(require.resolve("kubernetes-models/package.json"));
const FREE_MAPS = new Set(["labels", "annotations", "matchLabels", "data", "stringData",
    "selector", "requests", "limits", "nodeSelector"]);

function knownFields() {
    const dir = path.join(MODELS, "_schemas");
    const set = new Set(FREE_MAPS);
    for (const f of fs.readdirSync(dir)) {
        if (!f.endsWith(".js")) continue;
        for (const m of fs.readFileSync(path.join(dir, f), "utf8").matchAll(/instancePath\+"\/([^"]+)"/g))
            set.add(m[1]);
    }
    return set;
}

function modelFor(apiVersion, kind) {
    if (typeof apiVersion !== "string" || typeof kind !== "string") return null;
    if (!/^([a-z0-9.-]+\/)?v[0-9]+([a-z]+[0-9]+)?$/.test(apiVersion) || !/^[A-Za-z]+$/.test(kind))
        return null;
    let mod;
    try {
        mod = require(path.join(MODELS, apiVersion));
    } catch (e) {
        return null;
    }
    const cls = mod[kind];
    return typeof cls === "function" && cls.apiVersion === apiVersion && cls.kind === kind ? cls : null;
}

function unknownKeys(v, where, known, out) {
    if (Array.isArray(v)) {
        v.forEach((x, i) => unknownKeys(x, `${where}/${i}`, known, out));
    } else if (v && typeof v === "object") {
        for (const k of Object.keys(v)) {
            if (!known.has(k)) out.push(`${where}/${k}: no Kubernetes schema has a field "${k}"`);
            else if (!FREE_MAPS.has(k)) unknownKeys(v[k], `${where}/${k}`, known, out);
        }
    }
}

function parseAll(text, version) {
    const docs = YAML.parseAllDocuments(text, { version, uniqueKeys: true, prettyErrors: false });
    const out = [], problems = [];
    for (const d of docs) {
        for (const e of d.errors) problems.push(`YAML ${version}: ${e.message.split("\n")[0]}`);
        for (const w of d.warnings) problems.push(`YAML ${version} warning: ${w.message.split("\n")[0]}`);
        const js = d.toJS({ maxAliasCount: 0 });
        if (js !== null && js !== undefined) out.push(js);
    }
    return { out, problems };
}

function main(argv) {
    const asJson = argv[0] === "--json";
    const files = asJson ? argv.slice(1) : argv;
    if (files.length === 0) {
        process.stderr.write("usage: validate.js [--json] FILE...\n");
        return 2;
    }
    const known = knownFields();
    let bad = 0, n = 0;
    const all = [];
    for (const f of files) {
        const text = fs.readFileSync(f === "-" ? 0 : f, "utf8");
        const a = parseAll(text, "1.2"), b = parseAll(text, "1.1");
        const problems = a.problems.concat(b.problems);
        if (problems.length === 0 && JSON.stringify(a.out) !== JSON.stringify(b.out))
            problems.push("YAML 1.1 and 1.2 read different values (an unquoted ambiguous scalar)");
        for (const obj of a.out) {
            const name = `${obj && obj.kind}/${obj && obj.metadata && obj.metadata.name}`;
            const cls = modelFor(obj && obj.apiVersion, obj && obj.kind);
            n++;
            all.push(obj);
            if (!cls) {
                problems.push(`${name}: unknown apiVersion/kind ${obj && obj.apiVersion} ${obj && obj.kind}`);
                continue;
            }
            try {
                new cls(obj).validate();
            } catch (e) {
                problems.push(`${name}: ${e.message}`);
            }
            const unk = [];
            unknownKeys(obj, name, known, unk);
            problems.push(...unk);
        }
        for (const p of problems) process.stderr.write(`${f}: ${p}\n`);
        bad += problems.length;
    }
    if (asJson) process.stdout.write(JSON.stringify(all) + "\n");
    else if (bad === 0) process.stdout.write(`${n} objects valid\n`);
    return bad === 0 ? 0 : 1;
}

process.exitCode = main(process.argv.slice(2));
