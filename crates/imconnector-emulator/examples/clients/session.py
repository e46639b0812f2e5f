"""A connector's lifecycle against `imconnector-emulator --tls --json`, with plain `requests`.

    imconnector-emulator --tls --json > emulator.json &
    python3 session.py emulator.json
"""
import json
import sys

import requests

cfg = json.load(open(sys.argv[1] if len(sys.argv) > 1 else "emulator.json"))
http = requests.Session()
# Trust the emulator's generated CA. Passed per request: a REQUESTS_CA_BUNDLE in the
# environment would override `http.verify`.
tls = {"verify": cfg["ca_file"]}
line = cfg["lines"][0]


def call(method, params):
    body = http.post(cfg["portal"] + method, json={**params, "auth": cfg["access_token"]}, **tls).json()
    if "error" in body:
        raise RuntimeError(body)
    print(method, "->", json.dumps(body["result"]), "| operating", body["time"]["operating"])
    return body["result"]


call("imconnector.register", {
    "ID": "acme_chat", "NAME": "Acme Chat",
    "ICON": {"DATA_IMAGE": "data:image/svg+xml;charset=US-ASCII,%3Csvg%3E%3C/svg%3E"},
    "PLACEMENT_HANDLER": "https://connector.example/settings",
})
call("imconnector.activate", {"CONNECTOR": "acme_chat", "LINE": line, "ACTIVE": 1})
call("imconnector.status", {"CONNECTOR": "acme_chat", "LINE": line})
call("imconnector.send.messages", {"CONNECTOR": "acme_chat", "LINE": line, "MESSAGES": [{
    "user": {"id": "customer-1", "name": "Ann"},
    "message": {"id": "m-1", "date": 1767225600, "text": "Hello from Python"},
    "chat": {"id": "chat-1"},
}]})
# The operator's side, through the control API.
reply = http.post(cfg["control"] + "operator/reply",
                  json={"line": line, "chat_id": "chat-1", "text": "Hi Ann"}, **tls).json()
print("operator/reply ->", reply)
texts = [m["text"] for m in http.get(cfg["control"] + "messages",
                                      params={"line": line, "chat_id": "chat-1"}, **tls).json()]
print("messages ->", texts)
