// Run by test/npm_package_test.ts with Node: the Node data loaders of the
// packed package (no GPU needed). Prints one JSON line of sizes and checksums
// that the Deno side compares with its own loaders' output.
import { loadMnist } from "@latent/latent/data/mnist";
import { loadFashionMnist } from "@latent/latent/data/fashion-mnist";

/** Position-weighted sum of the bytes, mod 2^32: equal only for equal arrays, in practice. */
function checksum(bytes) {
  let h = 0;
  for (let i = 0; i < bytes.length; i++) h = (h + (i % 251 + 1) * bytes[i]) >>> 0;
  return h;
}

const sets = { mnist: await loadMnist(), fashion: await loadFashionMnist() };
const out = {};
for (const [name, d] of Object.entries(sets)) {
  for (const split of ["train", "test"]) {
    const s = d[split];
    out[`${name}.${split}`] = [s.n, s.rows, s.cols, checksum(s.images), checksum(s.labels)];
  }
}
console.log(JSON.stringify(out));
