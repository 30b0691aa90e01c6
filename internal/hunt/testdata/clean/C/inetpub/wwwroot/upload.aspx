<%@ Page Language="C#" AutoEventWireup="true" %>
<%@ Import Namespace="System.IO" %>
<!-- exsweep test fixture: a legitimate, larger upload page with validation (intranet HR portal) -->
<script runat="server">
    static readonly string[] Allowed = { ".pdf", ".docx", ".png", ".jpg" };
    const int MaxBytes = 10 * 1024 * 1024;

    protected void Page_Load(object sender, EventArgs e)
    {
        if (!User.Identity.IsAuthenticated) { Response.StatusCode = 401; return; }
        if (Request.HttpMethod != "POST" || Request.Files.Count == 0) return;
        HttpPostedFile f = Request.Files[0];
        string ext = Path.GetExtension(f.FileName).ToLowerInvariant();
        if (Array.IndexOf(Allowed, ext) < 0) { Show("File type not allowed."); return; }
        if (f.ContentLength > MaxBytes) { Show("File too large (10 MB max)."); return; }
        string dir = Server.MapPath("~/App_Data/uploads/" + User.Identity.Name.Replace('\\', '_'));
        Directory.CreateDirectory(dir);
        string safeName = Guid.NewGuid().ToString("N") + ext;
        f.SaveAs(Path.Combine(dir, safeName));
        Show("Uploaded " + Server.HtmlEncode(Path.GetFileName(f.FileName)) + ".");
    }

    void Show(string msg) { status.InnerText = msg; }
</script>
<!DOCTYPE html>
<html>
<head>
  <title>HR documents</title>
  <style>
    body { font-family: Segoe UI, Arial, sans-serif; margin: 2em; color: #222; }
    .box { border: 1px solid #ccc; padding: 1em 1.5em; border-radius: 4px; max-width: 40em; }
    .hint { color: #666; font-size: 90%; }
    #status { margin-top: 1em; font-weight: bold; }
    table { border-collapse: collapse; margin-top: 1em; }
    td, th { border: 1px solid #ddd; padding: 4px 8px; }
  </style>
</head>
<body>
  <h1>Upload a document</h1>
  <div class="box">
    <form method="post" enctype="multipart/form-data" runat="server">
      <p><input type="file" name="doc" /></p>
      <p class="hint">Accepted: PDF, Word, PNG, JPEG. Maximum 10 MB. Files are stored in your
      personal folder and reviewed by HR within two working days. Do not upload documents that
      contain other employees' personal data; use the secure channel described in the HR handbook,
      section 4.2, for medical certificates.</p>
      <p><button type="submit">Upload</button></p>
      <div id="status" runat="server"></div>
    </form>
  </div>
  <h2>Retention</h2>
  <table>
    <tr><th>Document</th><th>Kept for</th></tr>
    <tr><td>Contracts</td><td>10 years after leaving</td></tr>
    <tr><td>Payslips</td><td>6 years</td></tr>
    <tr><td>Leave requests</td><td>2 years</td></tr>
    <tr><td>Training certificates</td><td>until replaced</td></tr>
  </table>
  <p class="hint">Questions: hr-portal@contoso.com. This page is part of the intranet and is not
  reachable from outside the corporate network.</p>
</body>
</html>
