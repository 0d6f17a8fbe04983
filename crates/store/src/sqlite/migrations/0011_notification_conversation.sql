-- A message notification names its conversation, so a client can open it.
ALTER TABLE notifications ADD COLUMN conversation_id TEXT;
