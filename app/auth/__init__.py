"""Who the caller is: API tokens and JWTs, with no Flask in it."""
