// The Node.js Socket.IO server the realtime benchmark compares ours with (docs/benchmarks.md,
// scripts/bench-realtime). It does on the push path what apps/realtime does:
//   - Socket.IO on path /socket, the handshake's `auth.token` an HS256 access token signed with
//     JWT_SECRET (issuer `noillin`, audience `noillin-api`), refused when Redis records the
//     token's sign-in as ended or its user's token version as newer;
//   - each socket joins `user:{sub}` and `user:{sub}:sign-in:{sid}`, and its user's other
//     sockets on every node hear `presence` online (through the Redis adapter);
//   - it subscribes to `{NAMESPACE}:push` (JSON `{"command":"emit","room","event","data"}` or
//     `{"command":"disconnect","room"}`, crates/redis/src/push.rs) and acts on its LOCAL sockets
//     in that room, as every node receives every command.
// Nodes share Redis through the official adapter. Environment: PORT (0 = any free port),
// NAMESPACE, REDIS_URL, JWT_SECRET, ALLOWED_ORIGINS (comma-separated). It logs one JSON line
// `{"message":"listening","addr":"127.0.0.1:<port>"}` once it listens, as our binaries do, and
// answers GET /healthz and /readyz.

import { createServer } from "node:http";

import { createAdapter } from "@socket.io/redis-adapter";
import jwt from "jsonwebtoken";
import { createClient } from "redis";
import { Server } from "socket.io";

const env = (name, fallback) => {
  const value = process.env[name];
  if (value === undefined || value === "") {
    if (fallback === undefined) throw new Error(`${name} is required`);
    return fallback;
  }
  return value;
};

const port = Number(env("PORT", "4001"));
const namespace = env("NAMESPACE", "noillin");
const redisUrl = env("REDIS_URL", "redis://127.0.0.1:6379");
const secret = env("JWT_SECRET");
const allowedOrigins = env("ALLOWED_ORIGINS", "")
  .split(",")
  .map((o) => o.trim())
  .filter(Boolean);
const MAX_PAYLOAD_BYTES = 64 * 1024;
const ROOM_PREFIXES = ["user:", "conversation:"];

const log = (message, fields = {}) =>
  process.stdout.write(`${JSON.stringify({ level: "INFO", message, ...fields })}\n`);

const pub = createClient({ url: redisUrl });
const sub = pub.duplicate();
const pushes = pub.duplicate();
const commands = pub.duplicate();
for (const client of [pub, sub, pushes, commands]) {
  client.on("error", (e) => log("redis error", { error: String(e) }));
}
await Promise.all([pub.connect(), sub.connect(), pushes.connect(), commands.connect()]);

const http = createServer((req, res) => {
  if (req.url === "/healthz" || req.url === "/readyz") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end('{"status":"ok"}');
    return;
  }
  res.writeHead(404, { "content-type": "application/problem+json" });
  res.end('{"type":"/problems/not-found","title":"Not found","status":404}');
});

const io = new Server(http, {
  path: "/socket",
  maxHttpBufferSize: MAX_PAYLOAD_BYTES,
  serveClient: false,
  adapter: createAdapter(pub, sub, { key: `${namespace}:socket.io` }),
  allowRequest: (req, callback) => {
    const origin = req.headers.origin;
    callback(null, origin === undefined || allowedOrigins.includes(origin));
  },
});

io.use(async (socket, next) => {
  const token = socket.handshake.auth?.token;
  if (typeof token !== "string") return next(new Error("unauthorized"));
  let claims;
  try {
    claims = jwt.verify(token, secret, {
      algorithms: ["HS256"],
      issuer: "noillin",
      audience: "noillin-api",
    });
  } catch (e) {
    return next(new Error(e instanceof jwt.TokenExpiredError ? "token expired" : "unauthorized"));
  }
  try {
    const [version, ended] = await commands
      .multi()
      .get(`${namespace}:token-version:${claims.sub}`)
      .exists(`${namespace}:ended-session:${claims.sid}`)
      .exec();
    if (ended || (version !== null && claims.ver < Number(version))) {
      return next(new Error("token revoked"));
    }
  } catch (e) {
    log("sign-in state unavailable", { error: String(e) });
    return next(new Error("temporarily unavailable"));
  }
  socket.data.user = { id: claims.sub, signIn: claims.sid };
  next();
});

io.on("connection", (socket) => {
  const { id, signIn } = socket.data.user;
  const room = `user:${id}`;
  socket.join([room, `${room}:sign-in:${signIn}`]);
  socket.to(room).emit("presence", { user_id: id, status: "online" });
});

await pushes.subscribe(`${namespace}:push`, (payload) => {
  let command;
  try {
    command = JSON.parse(payload);
  } catch (e) {
    log("ignoring malformed push", { error: String(e) });
    return;
  }
  const room = command?.room;
  if (typeof room !== "string" || !ROOM_PREFIXES.some((p) => room.startsWith(p))) return;
  if (command.command === "emit") {
    io.local.to(room).emit(command.event, command.data);
  } else if (command.command === "disconnect") {
    io.local.in(room).disconnectSockets(true);
  }
});

http.listen(port, "127.0.0.1", () => {
  log("listening", { addr: `127.0.0.1:${http.address().port}` });
});

const stop = () => {
  io.close();
  Promise.allSettled([pub.quit(), sub.quit(), pushes.quit(), commands.quit()]).then(() =>
    process.exit(0),
  );
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
