"""The sync jobs: read both sides, plan with pure functions, apply action by action."""
