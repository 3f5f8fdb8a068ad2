"""Published clinical risk scores, one module per score, each a `DEFINITION`.

Items, points, bands and citations are transcribed from sources checked in
`docs/evidence-verification.md`; a score whose weights could not be checked is left out
rather than guessed. `registry` lists the scores and decides which apply to a case.
"""
