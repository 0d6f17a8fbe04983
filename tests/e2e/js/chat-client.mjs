// A chat client built on the official socket.io-client, driven by the end-to-end tests.
//
// Connects to GATEWAY_URL (e.g. http://127.0.0.1:8080) through /socket/ with TOKEN in the
// handshake's auth, with the client's default transports (long-polling first, then the upgrade
// to WebSocket), and prints one JSON line on stdout for everything it observes. After a
// reconnection it catches up on every conversation it has seen, with
// GET /api/v1/conversations/{id}/messages?after=<last id seen>, and prints the ids it fetched.
// RECONNECTION_DELAY_MS, when set, replaces the client's first reconnection delay (1 s, give or
// take half). It stops when its standard input closes.

import { io } from "socket.io-client";

const gateway = process.env.GATEWAY_URL;
const token = process.env.TOKEN;
if (!gateway || !token) {
  console.error("GATEWAY_URL and TOKEN are required");
  process.exit(2);
}

const print = (line) => console.log(JSON.stringify(line));

// The last message id seen per conversation, live or caught up.
const lastSeen = new Map();
const see = (conversationId, id) => {
  lastSeen.set(conversationId, Math.max(lastSeen.get(conversationId) ?? 0, id));
};

async function catchUp(conversationId) {
  const ids = [];
  let hasMore = true;
  while (hasMore) {
    const after = lastSeen.get(conversationId) ?? 0;
    const url = `${gateway}/api/v1/conversations/${conversationId}/messages?after=${after}&limit=100`;
    const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    if (!response.ok) {
      throw new Error(`GET ${url}: ${response.status} ${await response.text()}`);
    }
    const page = await response.json();
    for (const message of page.items) {
      ids.push(message.id);
      see(conversationId, message.id);
    }
    hasMore = page.has_more && page.items.length > 0;
  }
  print({ event: "catch_up", conversation_id: conversationId, ids });
}

const options = { path: "/socket/", auth: { token } };
if (process.env.RECONNECTION_DELAY_MS) {
  options.reconnectionDelay = Number(process.env.RECONNECTION_DELAY_MS);
}
const socket = io(gateway, options);

// Each (re)connection opens a new Engine.IO session: report its first transport and its upgrade.
socket.io.on("open", () => {
  const engine = socket.io.engine;
  print({ event: "open", transport: engine.transport.name });
  engine.once("upgrade", (transport) => print({ event: "upgrade", transport: transport.name }));
});

let connectedBefore = false;
socket.on("connect", async () => {
  print({ event: "connect", transport: socket.io.engine.transport.name });
  if (!connectedBefore) {
    connectedBefore = true;
    return;
  }
  try {
    for (const conversationId of lastSeen.keys()) {
      await catchUp(conversationId);
    }
  } catch (error) {
    print({ event: "error", message: String(error) });
  }
});

socket.on("connect_error", (error) => print({ event: "connect_error", message: error.message }));
socket.on("disconnect", (reason) => print({ event: "disconnect", reason }));
socket.io.on("reconnect_attempt", (attempt) => print({ event: "reconnect_attempt", attempt }));
socket.io.on("reconnect", (attempt) => print({ event: "reconnect", attempt }));

socket.on("message", (message) => {
  see(message.conversation_id, message.id);
  print({ event: "message", data: message });
});
socket.on("typing", (typing) => print({ event: "typing", data: typing }));

process.stdin.on("data", () => {});
process.stdin.on("end", () => {
  socket.disconnect();
  process.exit(0);
});
