"""``orchestrator report``: how the user's parallel agent sessions really went.

The transcripts are summarised once (:mod:`.transcript`, cached by :mod:`.cache`), joined with
our history (:mod:`.attention`, :mod:`.sessions`), turned into figures (:mod:`.analysis`), and
rendered as tables (:mod:`.render`) and pictures (:mod:`.pictures`); :mod:`.build` runs it all.
"""
