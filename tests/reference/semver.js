// Reference SemVer 2.0.0 precedence for nminus's differential tests: node-semver (npm's own
// implementation), in strict mode (loose: false). Reads tab-separated pairs on stdin and writes
// `<`, `=`, `>` or `! reason` per line. Usage: node semver.js <dir containing node_modules/semver>
const path = require('path');
const semver = require(path.join(process.argv[2], 'node_modules', 'semver'));
const lines = require('fs').readFileSync(0, 'utf8').split('\n');
if (lines[lines.length - 1] === '') lines.pop();
const out = [];
for (const line of lines) {
  const [a, b] = line.split('\t');
  // node-semver strips a leading `v`, `=` and blanks even in strict mode; SemVer 2.0.0 does not.
  const strict = (s) => (/^[v=\s]|\s$/.test(s) ? null : semver.parse(s, { loose: false }));
  const va = strict(a);
  const vb = strict(b);
  if (va === null || vb === null) {
    out.push(`! invalid: ${va === null ? a : b}`);
    continue;
  }
  const c = semver.compare(va, vb);
  out.push(c < 0 ? '<' : c > 0 ? '>' : '=');
}
process.stdout.write(out.join('\n') + (out.length ? '\n' : ''));
