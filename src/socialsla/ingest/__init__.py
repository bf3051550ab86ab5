"""The webhook gateway's pure core: platforms' webhook deliveries in, our events out.

`socialsla ingest` receives Meta's, X's and Chatwoot's webhooks (and events
already in our shape, from anything else) and produces the events the workers
count. This package is the part of it that needs no network: what to trust,
and what each delivery means. The HTTP server and the Kafka producer sit on top
of it and add nothing to either question.

Modules:

* `signatures`: each platform's signature check over the raw body (and X's
  challenge-response), run before anything of the body is parsed;
* `delivery`: `Delivery`, what one delivery yields (events, dead letters and
  the count of ignored items), and `Intake`, which builds one item by item,
  judging every event with the workers' own decoder;
* `fields`: reading platforms' fields: ids as decimal strings, times exact to
  the microsecond whichever documented form they come in;
* `names`: the names file that maps platform account ids to account names;
* `meta`, `x`, `chatwoot`: one pure function per platform, from a parsed body
  to a `Delivery`;
* `jsonlines`: JSON Lines (or a JSON array) of our own events, for other sources.
"""
