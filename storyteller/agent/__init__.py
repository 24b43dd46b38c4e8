"""The interviewer's brain: answer analysis, the question bank, the offline interviewer
and session progress. Pure Python: nothing here imports Flask or SQLAlchemy."""
