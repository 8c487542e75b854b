"""Privacy: Meta's deauthorize and data deletion callbacks, followers' access and erasure
requests, and retention. What is erased and what is kept is written in docs/privacy.md."""
