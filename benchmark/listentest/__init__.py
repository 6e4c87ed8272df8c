"""Subjective listening tests (ACR, ITU-T P.808 style) built from a run's stored outputs.

A layer beside `benchmark.report`: it may import `benchmark.core`, `benchmark.assets`,
`benchmark.run.store` and `benchmark.report`; nothing below it imports it.

- `design`: the test's manifest (conditions, stimuli, listeners) and per-listener order.
- `create`: `listen-test create`: items, stimuli (BS.1770 loudness-normalised), gold and trap clips.
- `tts`: the spoken trap message (eSpeak NG, from the `espeakng-loader` wheel).
- `db`: the ratings database (SQLite, one transaction per rating).
- `server`: `listen-test serve`: the web application (Starlette + uvicorn).
- `analysis`: listener screening, MOS with 95 % CI, bootstrap, paired tests.
- `report`: `listen-test report`: the Markdown section in the papers' layout.
- `p808`: export to / import from the microsoft/P.808 toolkit's CSV formats.
"""
