// The official x402 facilitator, as the @x402/core and @x402/svm packages
// build it, behind a minimal HTTP server: POST /verify, POST /settle,
// GET /supported (the x402 facilitator API; no paytab extras such as /keys).
//
// Environment: INTEROP_RPC_URL (the localnet), INTEROP_NETWORK (the CAIP-2 id
// it serves the localnet as, devnet's: the SDK knows only mainnet, devnet and
// testnet), INTEROP_FACILITATOR_KEYPAIR (fee payer, needs SOL), PORT (0 = any).
// Prints "listening <url>".
import http from "node:http";
import { x402Facilitator } from "@x402/core/facilitator";
import { toFacilitatorSvmSigner } from "@x402/svm";
import { registerExactSvmScheme } from "@x402/svm/exact/facilitator";
import { json, need, signerFromFile } from "./common.mjs";

const network = need("INTEROP_NETWORK");
const keypair = await signerFromFile(need("INTEROP_FACILITATOR_KEYPAIR"));
// The SDK's documented way to use an RPC of one's own: { defaultRpcUrl }.
const signer = toFacilitatorSvmSigner(keypair, { defaultRpcUrl: need("INTEROP_RPC_URL") });
const facilitator = new x402Facilitator();
registerExactSvmScheme(facilitator, { signer, networks: network });

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on("data", (chunk) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function answer(res, status, body) {
  const text = json(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

const server = http.createServer(async (req, res) => {
  const path = new URL(req.url, "http://localhost").pathname;
  try {
    if (req.method === "GET" && path === "/supported") return answer(res, 200, facilitator.getSupported());
    if (req.method === "POST" && (path === "/verify" || path === "/settle")) {
      const { paymentPayload, paymentRequirements } = JSON.parse(await readBody(req));
      const result =
        path === "/verify"
          ? await facilitator.verify(paymentPayload, paymentRequirements)
          : await facilitator.settle(paymentPayload, paymentRequirements);
      console.log(`${path} ${json(result)}`);
      return answer(res, 200, result);
    }
    return answer(res, 404, { error: "not_found" });
  } catch (error) {
    console.error(`${req.method} ${path}: ${error?.stack ?? error}`);
    return answer(res, 500, { error: error?.message ?? String(error) });
  }
});
server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
  console.log(`listening http://127.0.0.1:${server.address().port}`);
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => server.close(() => process.exit(0)));
