"""Shared text rules every stage may use: question and answer types, citation links, markup."""
