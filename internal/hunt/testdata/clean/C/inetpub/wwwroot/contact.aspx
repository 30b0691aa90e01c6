<%@ Page Language="C#" AutoEventWireup="true" %>
<%@ Import Namespace="System.Net.Mail" %>
<!-- exsweep test fixture: an ordinary intranet form that reads Request.Form and writes a response -->
<script runat="server">
    protected void Page_Load(object sender, EventArgs e)
    {
        if (Request.HttpMethod != "POST") return;
        string name = Request.Form["name"];
        string email = Request.Form["email"];
        string body = Request.Form["message"];
        if (String.IsNullOrEmpty(email) || !email.Contains("@"))
        {
            Response.Write("<p class='err'>Please enter a valid address.</p>");
            return;
        }
        using (var m = new MailMessage("noreply@contoso.com", "helpdesk@contoso.com"))
        {
            m.Subject = "Contact form: " + name;
            m.Body = body;
            new SmtpClient("localhost").Send(m);
        }
        Response.Write("<p>Thank you, " + Server.HtmlEncode(name) + ".</p>");
    }
</script>
<html><body>
<form method="post" runat="server">
  <input name="name" /> <input name="email" /> <textarea name="message"></textarea>
  <button type="submit">Send</button>
</form>
</body></html>
