// The JSON API as the page sees it: an answer, or an Error carrying the API's own explanation.
// (Answers carry ETags: the browser revalidates each poll and gets 304 when nothing changed.)

export async function getJson(path) {
  const response = await fetch(path);
  if (!response.ok) {
    let explanation = "";
    try {
      explanation = (await response.json()).error || "";
    } catch {
      // not JSON (a proxy's error page): the status says enough
    }
    throw new Error(explanation ? `${explanation} (HTTP ${response.status})` : `HTTP ${response.status}`);
  }
  return response.json();
}
