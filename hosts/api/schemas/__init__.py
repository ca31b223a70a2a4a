"""The API's request and response shapes, a module per domain (the routers
import from those); common.py holds the error shape and list limits."""
