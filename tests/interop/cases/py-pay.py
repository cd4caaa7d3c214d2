"""The official Python x402 client (PyPI `x402`, httpx + SVM), unpatched, pays
one URL's `exact` offer. Usage: python py-pay.py URL

Pointed at the localnet the supported way: the ExactSvmScheme client's
`rpc_url` argument (x402.mechanisms.svm.exact.register_exact_svm_client takes
the same), and the localnet's mint opted into the client's spend controls (by
default the SDK pays only the assets it knows, i.e. the real USDC mints).

Environment: INTEROP_RPC_URL, INTEROP_NETWORK, INTEROP_MINT, INTEROP_PAYER_KEYPAIR.
Prints "SHOWED: ..." and exits 0 on success, "FAILED: ..." and 1 otherwise.
"""

import asyncio
import base64
import json
import os
import sys
import traceback

import httpx
from solders.keypair import Keypair
from x402 import x402Client
from x402.http.clients import x402HttpxClient
from x402.mechanisms.svm import KeypairSigner
from x402.mechanisms.svm.exact import ExactSvmClientScheme


def need(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"{name} is not set (run this through tests/interop/run)")
    return value


def b64json(value: str) -> dict:
    return json.loads(base64.b64decode(value + "=" * (-len(value) % 4)))


def rpc(url: str, method: str, params: list) -> object:
    body = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).json()
    if "error" in body:
        raise RuntimeError(f"{method}: {body['error']}")
    return body["result"]


def token_balance(rpc_url: str, owner: str, mint: str) -> int:
    result = rpc(rpc_url, "getTokenAccountsByOwner", [owner, {"mint": mint}, {"encoding": "jsonParsed"}])
    return sum(int(a["account"]["data"]["parsed"]["info"]["tokenAmount"]["amount"]) for a in result["value"])


async def run(url: str) -> str:
    rpc_url = need("INTEROP_RPC_URL")
    network = need("INTEROP_NETWORK")
    mint = need("INTEROP_MINT")
    with open(need("INTEROP_PAYER_KEYPAIR")) as f:
        keypair = Keypair.from_bytes(bytes(json.load(f)))
    signer = KeypairSigner(keypair)

    probe = httpx.get(url)
    offer_header = probe.headers.get("payment-required")
    if probe.status_code != 402 or not offer_header:
        raise RuntimeError(f"expected 402 with PAYMENT-REQUIRED, got {probe.status_code}")
    offers = [a for a in b64json(offer_header)["accepts"] if a["scheme"] == "exact"]
    if not offers:
        raise RuntimeError(f"no exact offer in {offer_header}")
    offer = offers[0]
    on_label = "" if offer["network"] == network else f" [the offer names {offer['network']}, not {network}]"

    client = x402Client()
    client.register("solana:*", ExactSvmClientScheme(signer, rpc_url=rpc_url))
    client.set_spend_controls(
        {"allowed_assets": [{"network": "solana:*", "asset": mint, "max_amount_per_payment": "1000000"}]}
    )

    payer_before = token_balance(rpc_url, signer.address, mint)
    payee_before = token_balance(rpc_url, offer["payTo"], mint)
    try:
        async with x402HttpxClient(client, timeout=60) as http:
            response = await http.get(url)
            body = response.text
    except Exception as error:
        raise RuntimeError(f"the SDK did not pay: {type(error).__name__}: {error}{on_label}") from error
    if response.status_code != 200:
        required = response.headers.get("payment-required")
        reason = f" (PAYMENT-REQUIRED error: {b64json(required).get('error')})" if required else ""
        raise RuntimeError(f"paid retry answered {response.status_code}{reason}: {body[:300]}{on_label}")
    header = response.headers.get("payment-response")
    if not header:
        raise RuntimeError(f"200 without PAYMENT-RESPONSE: {body[:200]}")
    settlement = b64json(header)
    if not settlement.get("success") or not settlement.get("transaction"):
        raise RuntimeError(f"PAYMENT-RESPONSE not a success: {settlement}")
    tx = rpc(
        rpc_url,
        "getTransaction",
        [settlement["transaction"], {"encoding": "json", "commitment": "confirmed", "maxSupportedTransactionVersion": 0}],
    )
    if not tx or tx["meta"]["err"] is not None:
        raise RuntimeError(f"settlement transaction {settlement['transaction']} not confirmed cleanly: {tx and tx['meta']['err']}")
    paid = payer_before - token_balance(rpc_url, signer.address, mint)
    received = token_balance(rpc_url, offer["payTo"], mint) - payee_before
    if paid != int(offer["amount"]) or received != int(offer["amount"]):
        raise RuntimeError(f"offer was {offer['amount']}, payer paid {paid}, payee received {received}")
    return (
        f"200 {body[:80]}; PAYMENT-RESPONSE success on {settlement.get('network')}, "
        f"tx {settlement['transaction'][:16]}… confirmed; payer -{paid}, payTo +{received} raw units"
    )


def main() -> None:
    try:
        showed = asyncio.run(run(sys.argv[1]))
    except Exception as error:  # every failure is evidence
        traceback.print_exc()
        print(f"FAILED: {error}")
        sys.exit(1)
    print(f"SHOWED: {showed}")


if __name__ == "__main__":
    main()
