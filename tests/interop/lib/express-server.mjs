// A paid API written with the official @x402/express middleware, as its
// documentation shows: x402ResourceServer + HTTPFacilitatorClient + the SVM
// `exact` server scheme. GET /weather costs INTEROP_PRICE raw units of the
// localnet's mint (an AssetAmount price: the SDK's "$0.01" form would name
// devnet's USDC mint, which the localnet does not have).
//
// Environment: INTEROP_FACILITATOR_URL, INTEROP_FACILITATOR_API_KEY (optional:
// sent as "Authorization: Bearer" through the SDK's createAuthHeaders hook),
// INTEROP_NETWORK, INTEROP_MINT, INTEROP_PAY_TO, INTEROP_PRICE, PORT.
// Prints "listening <url>".
import express from "express";
import { HTTPFacilitatorClient } from "@x402/core/server";
import { paymentMiddleware, x402ResourceServer } from "@x402/express";
import { ExactSvmScheme } from "@x402/svm/exact/server";
import { need } from "./common.mjs";

const network = need("INTEROP_NETWORK");
const apiKey = process.env.INTEROP_FACILITATOR_API_KEY;
const facilitatorClient = new HTTPFacilitatorClient({
  url: need("INTEROP_FACILITATOR_URL"),
  ...(apiKey
    ? {
        createAuthHeaders: async () => {
          const headers = { Authorization: `Bearer ${apiKey}` };
          return { verify: headers, settle: headers, supported: headers };
        },
      }
    : {}),
});
const resourceServer = new x402ResourceServer(facilitatorClient).register(network, new ExactSvmScheme());

const routes = {
  "GET /weather": {
    accepts: {
      scheme: "exact",
      price: { amount: need("INTEROP_PRICE"), asset: need("INTEROP_MINT") },
      network,
      payTo: need("INTEROP_PAY_TO"),
    },
    description: "Weather report",
    mimeType: "application/json",
  },
};

let served = 0;
const app = express();
app.use(paymentMiddleware(routes, resourceServer));
app.get("/weather", (req, res) => {
  served += 1;
  res.json({ upstream: "x402-express", report: "sunny", served });
});
const server = app.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
  console.log(`listening http://127.0.0.1:${server.address().port}`);
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => server.close(() => process.exit(0)));
