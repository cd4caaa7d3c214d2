// @solana/kit against the localnet, as any Solana app would use it:
// airdropFactory (requestAirdrop, then a signature subscription to confirm)
// and sendAndConfirmTransactionFactory (sendTransaction, then signature and
// slot subscriptions with the blockhash lifetime), over JSON-RPC and PubSub.
//
// Environment: INTEROP_RPC_URL, INTEROP_WS_URL.
import {
  airdropFactory,
  appendTransactionMessageInstruction,
  createSolanaRpc,
  createSolanaRpcSubscriptions,
  createTransactionMessage,
  generateKeyPairSigner,
  getSignatureFromTransaction,
  lamports,
  pipe,
  sendAndConfirmTransactionFactory,
  setTransactionMessageFeePayerSigner,
  setTransactionMessageLifetimeUsingBlockhash,
  signTransactionMessageWithSigners,
} from "@solana/kit";
import { getTransferSolInstruction } from "@solana-program/system";
import { main, need } from "../lib/common.mjs";

const withTimeout = (promise, ms, what) =>
  Promise.race([promise, new Promise((_, reject) => setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms))]);

main(async () => {
  const rpc = createSolanaRpc(need("INTEROP_RPC_URL"));
  const rpcSubscriptions = createSolanaRpcSubscriptions(need("INTEROP_WS_URL"));
  const payer = await generateKeyPairSigner();
  const recipient = await generateKeyPairSigner();

  const airdrop = airdropFactory({ rpc, rpcSubscriptions });
  const airdropSignature = await withTimeout(
    airdrop({ recipientAddress: payer.address, lamports: lamports(2_000_000_000n), commitment: "confirmed" }),
    30_000,
    "airdropFactory",
  );
  const { value: airdropped } = await rpc.getBalance(payer.address, { commitment: "confirmed" }).send();
  if (airdropped !== 2_000_000_000n) throw new Error(`after the airdrop the balance is ${airdropped}, not 2000000000`);

  const sendAndConfirm = sendAndConfirmTransactionFactory({ rpc, rpcSubscriptions });
  const { value: latestBlockhash } = await rpc.getLatestBlockhash().send();
  const message = pipe(
    createTransactionMessage({ version: 0 }),
    (m) => setTransactionMessageFeePayerSigner(payer, m),
    (m) => setTransactionMessageLifetimeUsingBlockhash(latestBlockhash, m),
    (m) => appendTransactionMessageInstruction(getTransferSolInstruction({ source: payer, destination: recipient.address, amount: 1_000_000n }), m),
  );
  const transaction = await signTransactionMessageWithSigners(message);
  const started = Date.now();
  await withTimeout(sendAndConfirm(transaction, { commitment: "finalized" }), 30_000, "sendAndConfirmTransaction (finalized)");
  const confirmedIn = Date.now() - started;
  const signature = getSignatureFromTransaction(transaction);
  const { value: statuses } = await rpc.getSignatureStatuses([signature]).send();
  const { value: received } = await rpc.getBalance(recipient.address, { commitment: "finalized" }).send();
  if (received !== 1_000_000n) throw new Error(`recipient holds ${received} lamports, not 1000000`);
  return (
    `airdropFactory confirmed ${airdropSignature.slice(0, 12)}… (balance 2000000000); ` +
    `sendAndConfirmTransactionFactory finalized a transfer in ${confirmedIn} ms ` +
    `(status ${statuses[0]?.confirmationStatus}), recipient holds 1000000 lamports`
  );
});
