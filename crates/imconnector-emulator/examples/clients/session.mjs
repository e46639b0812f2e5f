// A connector's lifecycle against `imconnector-emulator --tls --json`, with Node's fetch.
//
//   imconnector-emulator --tls --json > emulator.json &
//   NODE_EXTRA_CA_CERTS=$(jq -r .ca_file emulator.json) node session.mjs emulator.json
import { readFileSync } from "node:fs";

const cfg = JSON.parse(readFileSync(process.argv[2] ?? "emulator.json", "utf8"));
const line = cfg.lines[0];

async function call(method, params) {
  const response = await fetch(cfg.portal + method, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ ...params, auth: cfg.access_token }),
  });
  const body = await response.json();
  if (body.error) throw new Error(JSON.stringify(body));
  console.log(method, "->", JSON.stringify(body.result), "| operating", body.time.operating);
  return body.result;
}

await call("imconnector.register", {
  ID: "acme_chat", NAME: "Acme Chat",
  ICON: { DATA_IMAGE: "data:image/svg+xml;charset=US-ASCII,%3Csvg%3E%3C/svg%3E" },
  PLACEMENT_HANDLER: "https://connector.example/settings",
});
await call("imconnector.activate", { CONNECTOR: "acme_chat", LINE: line, ACTIVE: 1 });
await call("imconnector.status", { CONNECTOR: "acme_chat", LINE: line });
await call("imconnector.send.messages", {
  CONNECTOR: "acme_chat", LINE: line, MESSAGES: [{
    user: { id: "customer-2", name: "Bob" },
    message: { id: "m-1", date: 1767225600, text: "Hello from Node" },
    chat: { id: "chat-2" },
  }],
});
// The operator's side, through the control API.
const reply = await fetch(cfg.control + "operator/reply", {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ line, chat_id: "chat-2", text: "Hi Bob" }),
}).then((r) => r.json());
console.log("operator/reply ->", JSON.stringify(reply));
