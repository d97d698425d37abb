import { createParleyClient, ParleySocket, unwrap } from "@parley/client";
import WebSocket from "ws"; // Node 20 has no global WebSocket; in a browser leave this out

const baseUrl = process.env.PARLEY_URL ?? "http://127.0.0.1:8080";
const token = process.env.PARLEY_TOKEN ?? ""; // a JWT whose `sub` is the user id

// Typed requests: paths, parameters, bodies and answers all come from the OpenAPI document.
const api = createParleyClient({ baseUrl, token });
const conversation = await unwrap(
  api.POST("/v1/conversations", { body: { type: "group", title: "Launch", member_ids: ["bob"] } }),
);

// The socket reconnects, resumes from its cursors and hands on every event once, in order.
const socket = new ParleySocket({ baseUrl, token, api, WebSocket });
socket.track(conversation.id, conversation.last_seq); // replay it after a reconnect, from here
socket.on("event", (event) => {
  console.log(`#${event.seq} ${event.type} by ${event.actor_id}: ${event.message?.body}`);
  if (event.message?.client_msg_id === "hello-1") {
    socket.close();
  }
});
socket.on("ready", async () => {
  // Retrying a send with the same client_msg_id never makes a second message.
  await unwrap(
    api.POST("/v1/conversations/{conversation_id}/messages", {
      params: { path: { conversation_id: conversation.id } },
      body: { client_msg_id: "hello-1", body: "Hello, team" },
    }),
  );
});
socket.connect();
