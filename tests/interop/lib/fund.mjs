// Funds wallets from the localnet's faucet (requestAirdrop for SOL,
// paytab_requestUsdc for the test mint) and waits until every request is
// confirmed. Usage: node fund.mjs RPC_URL ADDRESS:LAMPORTS:USDC_RAW ...
import { rpcCall } from "./common.mjs";

const [rpcUrl, ...grants] = process.argv.slice(2);
const signatures = [];
for (const grant of grants) {
  const [address, lamports, usdc] = grant.split(":");
  if (BigInt(lamports) > 0n) signatures.push(await rpcCall(rpcUrl, "requestAirdrop", [address, Number(lamports)]));
  if (BigInt(usdc) > 0n) signatures.push(await rpcCall(rpcUrl, "paytab_requestUsdc", [address, Number(usdc)]));
}
const deadline = Date.now() + 20_000;
for (;;) {
  const { value } = await rpcCall(rpcUrl, "getSignatureStatuses", [signatures]);
  const failed = value.find((s) => s?.err);
  if (failed) throw new Error(`a faucet transaction failed: ${JSON.stringify(failed.err)}`);
  if (value.every((s) => s && (s.confirmationStatus === "confirmed" || s.confirmationStatus === "finalized"))) break;
  if (Date.now() > deadline) throw new Error(`faucet transactions not confirmed in 20 s: ${JSON.stringify(value)}`);
  await new Promise((r) => setTimeout(r, 100));
}
console.log(`funded ${grants.length} wallets (${signatures.length} faucet transactions confirmed)`);
