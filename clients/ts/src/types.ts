// Names for the schemas of api/openapi.yaml. Every shape comes from the generated file: nothing
// here is written by hand, so the client cannot drift from the contract.
import type { components, operations, paths } from "./gen/openapi.js";

export type { components, operations, paths };

type Schemas = components["schemas"];

export type UserID = Schemas["UserID"];
export type Me = Schemas["Me"];
export type ConversationType = Schemas["ConversationType"];
export type Role = Schemas["Role"];
export type Conversation = Schemas["Conversation"];
export type ConversationSummary = Schemas["ConversationSummary"];
export type ConversationPage = Schemas["ConversationPage"];
export type CreateConversationRequest = Schemas["CreateConversationRequest"];
export type UpdateConversationRequest = Schemas["UpdateConversationRequest"];
export type MessageBody = Schemas["MessageBody"];
export type Title = Schemas["Title"];
export type Member = Schemas["Member"];
export type MemberList = Schemas["MemberList"];
export type AddMemberRequest = Schemas["AddMemberRequest"];
export type Message = Schemas["Message"];
export type MessagePage = Schemas["MessagePage"];
export type SendMessageRequest = Schemas["SendMessageRequest"];
export type EditMessageRequest = Schemas["EditMessageRequest"];
export type MarkReadRequest = Schemas["MarkReadRequest"];
export type ReadState = Schemas["ReadState"];
export type EventType = Schemas["EventType"];
export type Event = Schemas["Event"];
export type EventPage = Schemas["EventPage"];
export type Emoji = Schemas["Emoji"];
export type ReactionCount = Schemas["ReactionCount"];
export type Reaction = Schemas["Reaction"];
export type Reactor = Schemas["Reactor"];
export type ReactorPage = Schemas["ReactorPage"];
export type MemberSettings = Schemas["MemberSettings"];
export type SearchHit = Schemas["SearchHit"];
export type SearchPage = Schemas["SearchPage"];
export type Block = Schemas["Block"];
export type BlockList = Schemas["BlockList"];
export type PresenceStatus = Schemas["PresenceStatus"];
export type Presence = Schemas["Presence"];
export type PresenceList = Schemas["PresenceList"];
export type WebhookEvent = Schemas["WebhookEvent"];
export type Notification = Schemas["Notification"];
export type NotificationRequested = Schemas["NotificationRequested"];
export type HealthReport = Schemas["HealthReport"];
export type HealthChecks = Schemas["HealthChecks"];
export type CheckStatus = Schemas["CheckStatus"];
export type FieldError = Schemas["FieldError"];
export type Problem = Schemas["Problem"];

// WebSocket frames of parley.v1.
export type Cursors = Schemas["Cursors"];
export type ReadyFrame = Schemas["ReadyFrame"];
export type ResumeFrame = Schemas["ResumeFrame"];
export type EventFrame = Schemas["EventFrame"];
export type ResumedFrame = Schemas["ResumedFrame"];
export type ResyncFrame = Schemas["ResyncFrame"];
export type TypingRequestFrame = Schemas["TypingRequestFrame"];
export type TypingFrame = Schemas["TypingFrame"];
export type ReadFrame = Schemas["ReadFrame"];
export type PingFrame = Schemas["PingFrame"];
export type PongFrame = Schemas["PongFrame"];
export type PresenceSubscribeFrame = Schemas["PresenceSubscribeFrame"];
export type PresenceFrame = Schemas["PresenceFrame"];
export type ErrorFrame = Schemas["ErrorFrame"];

/** A frame the server sends. */
export type ServerFrame =
  | ReadyFrame
  | EventFrame
  | ResumedFrame
  | ResyncFrame
  | TypingFrame
  | ReadFrame
  | PongFrame
  | PresenceFrame
  | ErrorFrame;

/** A frame the client sends. */
export type ClientFrame = ResumeFrame | TypingRequestFrame | PingFrame | PresenceSubscribeFrame;
