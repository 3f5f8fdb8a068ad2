"""One module per page family; each builds an APIRouter of server-rendered pages."""
