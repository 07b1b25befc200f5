"""The Textual terminal UI of local-rerank: search a folder's files as you type a question.

It only calls the library (:mod:`local_rerank.search`); ``make_app`` builds the app for the
command line and for tests alike.
"""
