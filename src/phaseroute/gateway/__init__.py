"""The gateway: phase routing for any client over the Anthropic and OpenAI wire protocols."""
