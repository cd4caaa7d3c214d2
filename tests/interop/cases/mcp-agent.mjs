// The official MCP client SDK (@modelcontextprotocol/sdk) drives `paytab mcp`
// over stdio as an agent's host would: it lists the tools, quotes a paid URL,
// and fetches it; the owner's policy wants payments above 0.005 confirmed,
// which the client's elicitation handler (the "person") approves. The paytab
// ledger must then hold exactly that payment.
// Usage: node mcp-agent.mjs URL
//
// Environment: INTEROP_PAYTAB (the binary), INTEROP_RPC_URL, INTEROP_NETWORK,
// INTEROP_PAYER_KEYPAIR, INTEROP_PAYTAB_HOME, INTEROP_CATALOG.
import { spawnSync } from "node:child_process";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport, getDefaultEnvironment } from "@modelcontextprotocol/sdk/client/stdio.js";
import { ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { main, need } from "../lib/common.mjs";

const TOOLS = ["balance", "budget", "fetch", "get_service", "history", "quote", "search_services"];

main(async () => {
  const url = process.argv[2];
  const common = ["--url", need("INTEROP_RPC_URL"), "--keypair", need("INTEROP_PAYER_KEYPAIR"), "--home", need("INTEROP_PAYTAB_HOME")];
  const env = { ...getDefaultEnvironment(), PAYTAB_NETWORK: need("INTEROP_NETWORK"), PAYTAB_CATALOG: need("INTEROP_CATALOG") };
  const policy = spawnSync(need("INTEROP_PAYTAB"), [...common, "policy", "set", "confirm_above", "0.005"], { env, encoding: "utf8" });
  if (policy.status !== 0) throw new Error(`paytab policy set failed: ${policy.stderr}`);

  const asked = [];
  const client = new Client({ name: "interop-agent", version: "1.0.0" }, { capabilities: { elicitation: {} } });
  client.setRequestHandler(ElicitRequestSchema, async (request) => {
    asked.push(request.params.message);
    return { action: "accept", content: { approve: true } };
  });
  const transport = new StdioClientTransport({ command: need("INTEROP_PAYTAB"), args: [...common, "mcp"], env, stderr: "pipe" });
  let stderr = "";
  transport.stderr?.on("data", (chunk) => (stderr += chunk));
  try {
    await client.connect(transport);
    const names = (await client.listTools()).tools.map((tool) => tool.name).sort();
    if (JSON.stringify(names) !== JSON.stringify(TOOLS)) throw new Error(`tools ${names} are not ${TOOLS}`);

    const call = async (name, args) => {
      const result = await client.callTool({ name, arguments: args });
      if (result.isError) throw new Error(`${name} failed: ${JSON.stringify(result.content)}`);
      return result.structuredContent;
    };
    const quote = await call("quote", { url });
    if (quote.policy?.decision !== "confirm") throw new Error(`quote: expected the policy to ask for confirmation, got ${JSON.stringify(quote)}`);
    const fetched = await call("fetch", { url });
    if (fetched.status !== 200 || !fetched.paid) throw new Error(`fetch: ${JSON.stringify(fetched).slice(0, 300)}`);
    if (asked.length !== 1) throw new Error(`the person was asked ${asked.length} times`);
    const history = await call("history", {});
    const last = history.payments?.[0];
    if (history.payments?.length !== 1 || last.reference !== fetched.paid.reference) {
      throw new Error(`the ledger does not hold exactly this payment: ${JSON.stringify(history)}`);
    }
    const malformed = await client.callTool({ name: "fetch", arguments: { url: 5 } });
    if (!malformed.isError) throw new Error("a malformed argument was not a tool error");
    return (
      `${names.length} tools listed; quote ${quote.price} via ${quote.scheme} → policy "confirm"; ` +
      `fetch asked the person once ("${asked[0].slice(0, 60)}…"), approved → ${fetched.status}, paid ${fetched.paid.price} via ${fetched.paid.scheme} ` +
      `(${fetched.paid.reference.slice(0, 16)}…); body marked untrusted: ${fetched.body.untrusted}; ledger holds it; a malformed argument is a tool error`
    );
  } catch (error) {
    throw new Error(`${error.message}${stderr ? ` [paytab mcp stderr: ${stderr.slice(-300)}]` : ""}`);
  } finally {
    await client.close().catch(() => {});
  }
});
