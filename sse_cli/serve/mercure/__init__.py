"""The Mercure hub: `GET` and `POST /.well-known/mercure`, on the app's broker.

Both dialects on one hub: draft-08 (`match=`, `match_urlpattern=`, `authorization_details`
tokens) and the legacy one (`topic=` with `*` and URI templates, the `mercure` claim).
Updates go into one global ordered log on the broker (in memory, or Redis Streams with
--broker); each process matches them against its own subscribers, with match results
cached per (topic, selector). Imports jwt only where a token is checked.
"""
