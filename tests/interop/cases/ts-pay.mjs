// The official TypeScript x402 client (@x402/fetch + @x402/svm), unpatched,
// pays one URL's `exact` offer. Usage: node ts-pay.mjs URL
//
// Pointed at the localnet the supported way: the ExactSvmScheme client's
// { rpcUrl } option (registerExactSvmScheme has no RPC option, so the scheme
// is registered by hand, as the SDK's own helper does), and the localnet's
// mint opted into the client's spend controls (by default the SDK pays only
// assets it knows, i.e. the real USDC mints).
//
// Environment: INTEROP_RPC_URL, INTEROP_NETWORK, INTEROP_MINT, INTEROP_PAYER_KEYPAIR.
import { decodePaymentResponseHeader, wrapFetchWithPayment, x402Client } from "@x402/fetch";
import { ExactSvmScheme } from "@x402/svm/exact/client";
import { decodeHeaderJson, main, need, rpcCall, signerFromFile, tokenBalance } from "../lib/common.mjs";

main(async () => {
  const url = process.argv[2];
  const rpcUrl = need("INTEROP_RPC_URL");
  const network = need("INTEROP_NETWORK");
  const mint = need("INTEROP_MINT");
  const signer = await signerFromFile(need("INTEROP_PAYER_KEYPAIR"));

  // What the server asks, read without the SDK, to check what was paid.
  const probe = await fetch(url);
  const offerHeader = probe.headers.get("payment-required");
  if (probe.status !== 402 || !offerHeader) throw new Error(`expected 402 with PAYMENT-REQUIRED, got ${probe.status}`);
  const offer = decodeHeaderJson(offerHeader).accepts.find((a) => a.scheme === "exact");
  if (!offer) throw new Error(`no exact offer in ${offerHeader}`);
  const onLabel = offer.network === network ? "" : ` [the offer names ${offer.network}, not ${network}]`;

  const client = new x402Client();
  client.register("solana:*", new ExactSvmScheme(signer, { rpcUrl }));
  client.setSpendControls({ allowedAssets: [{ network: "solana:*", asset: mint, maxAmountPerPayment: "1000000" }] });
  const fetchWithPayment = wrapFetchWithPayment(fetch, client);

  const payerBefore = await tokenBalance(rpcUrl, signer.address, mint);
  const payeeBefore = await tokenBalance(rpcUrl, offer.payTo, mint);
  let response;
  try {
    response = await fetchWithPayment(url);
  } catch (error) {
    throw new Error(`the SDK did not pay: ${error?.message ?? error}${onLabel}`);
  }
  const body = await response.text();
  if (response.status !== 200) {
    const required = response.headers.get("payment-required");
    const reason = required ? decodeHeaderJson(required).error : undefined;
    throw new Error(`paid retry answered ${response.status}${reason ? ` (PAYMENT-REQUIRED error: ${reason})` : ""}: ${body.slice(0, 300)}${onLabel}`);
  }
  const header = response.headers.get("payment-response");
  if (!header) throw new Error(`200 without PAYMENT-RESPONSE: ${body.slice(0, 200)}`);
  const settlement = decodePaymentResponseHeader(header);
  if (!settlement.success || !settlement.transaction) throw new Error(`PAYMENT-RESPONSE not a success: ${header}`);
  const tx = await rpcCall(rpcUrl, "getTransaction", [
    settlement.transaction,
    { encoding: "json", commitment: "confirmed", maxSupportedTransactionVersion: 0 },
  ]);
  if (!tx || tx.meta?.err) throw new Error(`settlement transaction ${settlement.transaction} not confirmed cleanly: ${JSON.stringify(tx?.meta?.err)}`);
  const paid = payerBefore - (await tokenBalance(rpcUrl, signer.address, mint));
  const received = (await tokenBalance(rpcUrl, offer.payTo, mint)) - payeeBefore;
  if (paid !== BigInt(offer.amount) || received !== BigInt(offer.amount)) {
    throw new Error(`offer was ${offer.amount}, payer paid ${paid}, payee received ${received}`);
  }
  return `200 ${body.slice(0, 80)}; PAYMENT-RESPONSE success on ${settlement.network}, tx ${settlement.transaction.slice(0, 16)}… confirmed; payer -${paid}, payTo +${received} raw units`;
});
