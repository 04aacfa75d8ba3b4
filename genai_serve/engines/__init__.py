"""Step engines: one per iterative model, each advancing a list of running requests by one step in shared
network calls (genai_serve/scheduler.py drives them; the step math lives in genai_serve/sampling/ and
genai_serve/gpt2/decode.py)."""
