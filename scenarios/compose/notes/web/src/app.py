"""A note-taking web app (a stand-in: dsim reads only this file's size, as a build context file)."""
