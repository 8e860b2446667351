// Swagger UI for /api/docs, from the assets this server ships (swagger-ui-bundle on PyPI):
// no CDN, no inline script. The OpenAPI address comes from the page's data attribute.
window.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapi,
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
