"""The whole-station harness, above the agent: the demo's office day
(:mod:`.demo`), seeded campaigns (:mod:`.campaign`), the scripted operator
(:mod:`.operator`) and the agent as a child process (:mod:`.agent_process`)."""
