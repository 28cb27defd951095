"""Protocol and algorithm code with no ORM state, testable without a database."""
