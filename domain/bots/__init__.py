"""The bot engine's pure rules: configs, funds, risk mechanisms, schedules (no I/O, no clock:
"now" and prices are arguments), shared by workflows, the market feeds and the API."""
