"""Call recordings and voicemail messages: found from the interaction log, served to the
people allowed to hear them, removed when their retention period ends (docs/recordings.md)."""
