"""Identity: who is asking. Sign-in, sessions, tokens and SMART launch turn into a `Principal`."""
