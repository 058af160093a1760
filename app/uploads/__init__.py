"""What an upload is and the rules it follows: policy, names, part plans, ids, completion, events,
cleanup. No Flask here."""
