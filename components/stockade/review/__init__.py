"""Reviewing infrastructure changes in pull requests.

Two sources feed one change model (`stockade.review.model`): the offline diff of
two revisions' desired states (`stockade diff`) and a real `pulumi preview --json`
document (`stockade comment`). One risk module classifies both, one renderer
writes the Markdown comment or the JSON document.

Nothing in this package imports pulumi or a provider SDK: the synths run in
child processes against each revision's own code.
"""
